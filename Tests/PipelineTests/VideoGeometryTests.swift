import Testing
@testable import Pipeline

@Suite struct VideoGeometryTests {
    @Test func tableAndLatents() {
        #expect(VideoGeometry.size(.p480, .wide) == VideoSize(width: 832, height: 480))
        #expect(VideoGeometry.size(.p720, .portrait) == VideoSize(width: 720, height: 960))
        #expect(VideoGeometry.latentShape(frames: 81, size: VideoGeometry.size(.p480, .wide)) == [16, 21, 60, 104])
        #expect(VideoGeometry.latentFrames(1) == 1 && VideoGeometry.latentFrames(5) == 2)
        for r in Resolution.allCases { for a in AspectRatio.allCases {
            #expect(VideoGeometry.problem(frames: 81, size: VideoGeometry.size(r, a)) == nil)
        } }
    }

    @Test func adaptiveResolutionFollowsTheImage() {
        // A 4:3 landscape photo at 720p area (1280·720): h = round(√(921600·0.75)/16)·16.
        let s = VideoGeometry.adaptive(area: VideoSize(width: 1280, height: 720), imageWidth: 1600, imageHeight: 1200)
        #expect(s == VideoSize(width: 1104, height: 832))
        let square = VideoGeometry.adaptive(area: VideoSize(width: 832, height: 480), imageWidth: 500, imageHeight: 500)
        #expect(square == VideoSize(width: 624, height: 624))
    }

    @Test func problemsSayWhatToChange() {
        let m = VideoGeometry.problem(frames: 80, size: VideoSize(width: 832, height: 480))
        #expect(m?.contains("4n+1") == true && m?.contains("77") == true && m?.contains("81") == true)
        #expect(VideoGeometry.problem(frames: 81, size: VideoSize(width: 830, height: 480))?.contains("multiple of 16") == true)
    }
}
